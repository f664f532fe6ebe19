"""Training and evaluation of action classifiers: data and split, cached features, recipes, reports."""
