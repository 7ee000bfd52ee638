"""Search from Python: ``run_search`` (a config run as ``azc search`` runs it) and the
scikit-learn estimators ``EvolvedRegressor`` and ``EvolvedClassifier``."""
from .estimators import EvolvedClassifier, EvolvedRegressor
from .session import SearchResult, config_dict, make_config, run_search

__all__ = ["EvolvedClassifier", "EvolvedRegressor", "SearchResult", "config_dict", "make_config", "run_search"]
