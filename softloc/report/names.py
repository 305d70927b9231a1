"""Methods under the paper's names, with the work each comes from.

A params.yaml method key (`multisimilarity`) is a name for the pipeline; a reader of Table 1
wants "Multi-similarity [Wang et al. 2019]". Names follow the loss (and, for the soft loss, its
form, influence function and combination), so a new method key is named without code changes.
"""

from __future__ import annotations

from typing import Mapping

from softloc.config import Method, Model

# loss registry name -> (the paper's name, source)
LOSS_NAMES: dict[str, tuple[str, str]] = {
    "soft_contrastive": ("Soft contrastive", "Thoma et al. 2020"),
    "triplet": ("Triplet", "Arandjelović et al. 2016"),
    "quadruplet": ("Quadruplet", "Chen et al. 2017"),
    "lazy_triplet": ("Lazy triplet", "Uy and Lee 2018"),
    "lazy_quadruplet": ("Lazy quadruplet", "Uy and Lee 2018"),
    "triplet_huber": ("Triplet + Huber distance", "Thoma et al. RA-L 2020"),
    "logratio": ("Log-ratio", "Kim et al. 2019"),
    "multisimilarity": ("Multi-similarity", "Wang et al. 2019"),
}
OFF_THE_SHELF = "Off-the-shelf"

REFERENCES = {
    "Thoma et al. 2020": "J. Thoma, D. P. Paudel, L. Van Gool. Soft Contrastive Learning for Visual "
                         "Localization. NeurIPS 2020.",
    "Arandjelović et al. 2016": "R. Arandjelović, P. Gronat, A. Torii, T. Pajdla, J. Sivic. NetVLAD: CNN "
                                "architecture for weakly supervised place recognition. CVPR 2016.",
    "Chen et al. 2017": "W. Chen, X. Chen, J. Zhang, K. Huang. Beyond triplet loss: a deep quadruplet "
                        "network for person re-identification. CVPR 2017.",
    "Uy and Lee 2018": "M. A. Uy, G. H. Lee. PointNetVLAD: Deep point cloud based retrieval for "
                       "large-scale place recognition. CVPR 2018.",
    "Thoma et al. RA-L 2020": "J. Thoma, D. P. Paudel, A. Chhatkuli, L. Van Gool. Geometrically mappable "
                              "image features. IEEE RA-L 2020.",
    "Kim et al. 2019": "S. Kim, M. Seo, I. Laptev, M. Cho, S. Kwak. Deep metric learning beyond binary "
                       "supervision. CVPR 2019.",
    "Wang et al. 2019": "X. Wang, X. Han, W. Huang, D. Dong, M. R. Scott. Multi-similarity loss with "
                        "general pair weighting for deep metric learning. CVPR 2019.",
}


def paper_name(method: Method, model: Model) -> str:
    """The method's name in the paper's terms, without its source: "Soft contrastive (tanh
    influence)", "Off-the-shelf (small, random init)". An unknown loss keeps its registry name."""
    loss = method.loss
    if loss == "none":
        return f"{OFF_THE_SHELF} ({model.backbone}, {model.init} init)"
    name = LOSS_NAMES.get(loss, (loss, ""))[0]
    if loss != "soft_contrastive":
        return name
    details = []
    if method.form == "paper":
        details.append("eq. 5 as printed")
    if method.influence != "sigmoid":
        details.append(f"{method.influence} influence")
    if method.combine == "sum":
        details.append("simple sum")
    return f"{name} ({', '.join(details)})" if details else name


def merged_name(members: list[str], methods: Mapping[str, Method], kept: set[str]) -> str:
    """The name of a row that merges identical methods, short enough for a table cell and a legend:
    "Off-the-shelf (= 5 methods that kept their initial weights)" when the row holds the untrained
    network and every other member kept its initial weights; "Triplet (= 2 identical methods)"
    otherwise (the first member's name). The list of members goes into a footnote."""
    untrained = [m for m in members if methods[m].loss == "none"]
    others = [m for m in members if m not in untrained]
    if untrained and all(m in kept for m in others):
        kept = "method that kept its initial weights" if len(others) == 1 else "methods that kept their initial weights"
        return f"{OFF_THE_SHELF} (= {len(others)} {kept})"
    first = methods[members[0]]
    name = LOSS_NAMES.get(first.loss, (first.loss, ""))[0] if first.loss != "none" else OFF_THE_SHELF
    return f"{name} (= {len(members)} identical methods)"


def source(method: Method) -> str:
    """The work a method comes from ("Wang et al. 2019"); "" for the off-the-shelf network."""
    return LOSS_NAMES.get(method.loss, ("", ""))[1]


def cited_name(method: Method, model: Model) -> str:
    """"Multi-similarity [Wang et al. 2019]": the paper's name and its source."""
    cite = source(method)
    return f"{paper_name(method, model)} [{cite}]" if cite else paper_name(method, model)


def references(methods: Mapping[str, Method]) -> dict[str, str]:
    """The full reference of the paper and of every source a method of `methods` cites."""
    cited = {source(cfg) for cfg in methods.values()} | {"Thoma et al. 2020"}
    return {key: text for key, text in REFERENCES.items() if key in cited}
