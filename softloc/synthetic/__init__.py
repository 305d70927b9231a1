"""The embedded worlds: a synthetic town rendered into the real RobotCar, Pittsburgh and Seasons
file layouts (robotcar_world, pittsburgh_world, seasons_world over town and render)."""
