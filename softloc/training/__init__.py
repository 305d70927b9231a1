"""Training of one method: NetVLAD init, tuples with hard negatives, Adam, validation, resume.

One call of `train_method` takes the network of params `model` from its initialisation (NetVLAD
clusters by k-means on conv descriptors of training images) to the best-validating weights:

- `loss: none` (off-the-shelf): the initialised network is validated and saved as is.
- otherwise Adam at `train.lr`, multiplied by `train.lr_decay` (0.5) every epoch as the
  authors' release does; `train.epochs` epochs of one anchor per metre of route (capped at
  `train.max_steps_per_epoch` steps of `train.batch_tuples` tuples; null: no cap); top-1 accuracy within
  `train.val_threshold_m` on the validation split at step 0, after every epoch and every
  `train.val_every_steps` steps (0: epochs only); early stop after `train.patience` validations
  without improvement; the best weights are the result.

Resume: every `train.checkpoint_every_steps` steps and at every epoch end the whole state
(weights, optimizer, grad scaler, counters, mining cache, best weights, log history, torch RNG)
is written atomically to `<resume_root>/<method>/<key>/state.pt`, where key hashes the params, data
and code (every softloc/pipeline source the process imported) that shape the run; the file holds
tensors and plain containers only and loads with weights_only=True (resume). Tuple sampling
draws from numpy generators seeded by (seed, epoch, step), so a rerun after a kill continues
from the last checkpoint and ends with the weights an uninterrupted run ends with. The state is
deleted once the model file is written; states of other keys, and of runs whose model file
exists (finished, or restored from DVC's run cache), are swept at every run start.

Modules, one job each: data (what training reads), device (device, autocast, DDP), distributed
(torchrun collectives), mining (tuples and hard negatives), prefetch (one batch ahead), feed
(each step's batch), embedding (descriptors outside the step, NetVLAD init), validation (and
early stopping), state (run state and checkpoints), resume (the state file), live (dvclive
logs), loop (the Trainer), method (train_method: the stage's call).
"""

from softloc.training.data import Split, TrainData, load_train_data
from softloc.training.device import pick_device
from softloc.training.loop import Trainer
from softloc.training.method import train_method

__all__ = ["Split", "TrainData", "Trainer", "load_train_data", "pick_device", "train_method"]
