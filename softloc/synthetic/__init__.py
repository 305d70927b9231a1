"""The embedded worlds: a synthetic town rendered into the real RobotCar, Pittsburgh and Seasons
file layouts (robotcar_world, pittsburgh_world, seasons_world over town and render).

town builds the streets and scenery; render is the raycaster (camera, looks, ground, facades,
sprites, lights) seen through RobotCar's camera (sensor, motion_blur); robotcar_world drives the
town (motion), writes its INS logs (ins) and plants faults (faults)."""
