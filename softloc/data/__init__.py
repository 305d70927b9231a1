"""Readers and writers of dataset formats (RobotCar raw layout, synthetic world)."""
