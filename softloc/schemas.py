"""The documented columns (name -> pyarrow type) of every parquet file the pipeline writes.

Units: easting/northing in metres (UTM), yaw in degrees (clockwise from north, as RobotCar's
INS), latitude/longitude in degrees (WGS84), timestamps in microseconds (UNIX epoch).
"""

from __future__ import annotations

# data/interim/images.parquet: every image of every traversal, kept or not.
IMAGES = {
    "image_id": "int64",       # row number, stable: sorted by traversal then timestamp
    "traversal": "string",     # RobotCar folder name, YYYY-MM-DD-HH-MM-SS
    "condition": "string",     # overcast | sunny | night | snow | rain | dusk | ...
    "timestamp": "int64",      # microseconds
    "path": "string",          # image path relative to the raw dataset root
    "easting": "float64",      # metres, UTM
    "northing": "float64",     # metres, UTM
    "yaw": "float64",          # degrees, heading of the camera
    "latitude": "float64",     # degrees
    "longitude": "float64",    # degrees
    "kept": "bool",            # False when the clean stage dropped the image
    "reason": "string",        # "" when kept, else the drop reason (see softloc.clean.REASONS)
}

# data/processed/{train_images,val_reference,val_queries}.parquet, data/processed/test/{reference,queries}.parquet:
# kept images of one split; same columns as IMAGES minus kept/reason.
SPLIT_IMAGES = {k: v for k, v in IMAGES.items() if k not in ("kept", "reason")}

# data/processed/train_anchors.parquet: one anchor per metre of route in the training region.
# Neighbour lists hold ROW POSITIONS in train_images.parquet of every training image within
# tuples.max_radius_m of the anchor (anchor itself excluded), with distance and yaw difference.
TRAIN_ANCHORS = {
    "anchor": "int64",                  # row position of the anchor in train_images.parquet
    "neighbours": "list<int64>",        # row positions in train_images.parquet
    "distance_m": "list<float32>",      # metres from the anchor
    "yaw_diff_deg": "list<float32>",    # absolute heading difference in [0, 180] degrees
}

# <raw root>/synthetic_truth.parquet: the synthetic world's ground truth, one row per image
# timestamp listed in a traversal's stereo.timestamps (written by softloc.synthetic.robotcar_world).
SYNTHETIC_TRUTH = {
    "traversal": "string",     # folder name, YYYY-MM-DD-HH-MM-SS
    "timestamp": "int64",      # microseconds
    "easting": "float64",      # metres, UTM 30U, true camera position
    "northing": "float64",     # metres
    "yaw": "float64",          # degrees in [-180, 180), true heading, clockwise from north
    "fault": "string",         # "" for a good image, else the clean reason it must be dropped with
}

# data/testsets/<name>/{reference,queries}.parquet: one test set's images (softloc.datasets).
# Paths are relative to the test set's image root (params testsets.<name>.images). Positions are
# metres in UTM (utm_zone e.g. "30U") or in the dataset's own local metric frame (utm_zone "").
# Unknown values: timestamp 0, yaw / latitude / longitude / pose columns NaN. Queries whose
# position is withheld (a benchmark's hidden truth) have NaN easting / northing.
TESTSET_IMAGES = {
    "image_id": "int64",       # row number in the table
    "path": "string",          # relative to the test set's image root
    "source": "string",        # traversal (RobotCar), list name (db / queries), slice, ...
    "condition": "string",     # overcast | night | ... | the dataset's name for single-condition sets
    "camera": "string",        # "" for a single camera; retrieval stays within one camera
    "timestamp": "int64",      # microseconds, 0 when unknown
    "easting": "float64",      # metres
    "northing": "float64",     # metres
    "utm_zone": "string",      # "30U", "17T", ... or "" for a local frame
    "yaw": "float64",          # degrees clockwise from north, NaN when unknown
    "latitude": "float64",     # degrees WGS84, NaN when unknown or local frame
    "longitude": "float64",
    "qw": "float64",           # world-to-camera rotation (unit quaternion, w first), NaN when unknown
    "qx": "float64",
    "qy": "float64",
    "qz": "float64",
    "cx": "float64",           # camera centre in the world frame, NaN when unknown
    "cy": "float64",
    "cz": "float64",
}
