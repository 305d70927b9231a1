"""The schema of params.yaml: every section and key, its type, range and relations, in one place.

`validate_params(raw)` checks a params dict (as PyYAML reads params.yaml) before a stage does any
work; the first problem is a `ParamsError` whose one-line message names the key
(`section.key`, `methods.<name>.<key>`, `synthetic.traversals[2].condition`), the value and what
is allowed. Unknown keys are errors (a typo never falls back to a default), types are strict (a
YAML string such as `1e-3` or `"0.8"` is no number, `off` is no string), and the relations
between keys are checked (r1 <= r2 where a loss needs it, every radius within
tuples.max_radius_m, split.gap_m beyond every r2, ...).

The modules, one job each:
- base: the Section base model and the constrained types the sections share;
- data_sections, run_sections: the fixed sections, data side (data, synthetic*, clean, split,
  tuples) and model side (model, train, pca, extract, evaluate, report, gradcam);
- aggregator_sections: `aggregators`, the hyperparameters of the aggregators other than NetVLAD
  (softloc/models/aggregators), at their published defaults;
- entries: the open-ended entries, each against its own model. `methods.<name>`: the base keys
  (loss, r1, r2, n_extra) plus the hyperparameters of its loss, made from the params dataclass
  that the loss's file in softloc/losses declares (their one home). `testsets.<name>`: format,
  split, images, pca_fit, plus the keys that the format module softloc/datasets/<format>.py
  declares in its optional attribute CONFIG (a pydantic model);
- relations: the rules between keys;
- errors: ParamsError and pydantic's errors turned into it;
- schema: the whole file (`Params`) and `validate_params`.
The names of methods and test sets are [A-Za-z0-9_]+ (they become folder names), conditions
lower-case identifiers (they become column values and report labels).

A new params key: add it to params.yaml with its comment AND here (a loss's hyperparameter: in its
params dataclass).
"""

from softloc.config.aggregator_sections import AggregatorName, Aggregators, Boq, Gem, MixVpr, Salad
from softloc.config.base import (CONDITION_PATTERN, NAME_PATTERN, TRAVERSAL_PATTERN, Condition, Fraction, Name,
                                 NonNegativeFloat, NonNegativeInt, PathStr, PositiveFloat, PositiveInt, Section, UtmZone, UtmZoneOrLocal)
from softloc.config.data_sections import (Box, Clean, Data, SeasonsCondition, Split, Synthetic, SyntheticFaults,
                                          SyntheticPittsburgh, SyntheticRegions, SyntheticSeasons, SyntheticTraversals,
                                          Tuples)
from softloc.config.entries import Method, Testset, method_model, testset_model
from softloc.config.errors import ParamsError
from softloc.config.run_sections import (Bootstrap, Evaluate, Extract, Gradcam, Mining, Model, Pca, Report,
                                         Train)
from softloc.config.schema import Params, validate_params

__all__ = [
    "AggregatorName", "Aggregators", "Boq", "Gem", "MixVpr", "Salad",
    "CONDITION_PATTERN", "NAME_PATTERN", "TRAVERSAL_PATTERN", "Condition", "Fraction", "Name", "NonNegativeFloat",
    "NonNegativeInt", "PathStr", "PositiveFloat", "PositiveInt", "Section", "UtmZone", "UtmZoneOrLocal",
    "Box", "Clean", "Data", "SeasonsCondition", "Split", "Synthetic", "SyntheticFaults", "SyntheticPittsburgh",
    "SyntheticRegions", "SyntheticSeasons", "SyntheticTraversals", "Tuples",
    "Method", "Testset", "method_model", "testset_model",
    "ParamsError",
    "Bootstrap", "Evaluate", "Extract", "Gradcam", "Mining", "Model", "Pca", "Report", "Train",
    "Params", "validate_params",
]
