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

# data/processed/{train_images,val_reference,val_queries,test_reference,test_queries}.parquet:
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
# timestamp listed in a traversal's stereo.timestamps (written by softloc.data.synthetic).
SYNTHETIC_TRUTH = {
    "traversal": "string",     # folder name, YYYY-MM-DD-HH-MM-SS
    "timestamp": "int64",      # microseconds
    "easting": "float64",      # metres, UTM 30U, true camera position
    "northing": "float64",     # metres
    "yaw": "float64",          # degrees in [-180, 180), true heading, clockwise from north
    "fault": "string",         # "" for a good image, else the clean reason it must be dropped with
}
