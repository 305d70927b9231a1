"""Raw dataset file formats, one module each: RobotCar's traversal folders (robotcar_raw), the
Pittsburgh list .mat (pittsburgh_mat) and the Seasons benchmark files (seasons_files)."""
