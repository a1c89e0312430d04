"""Part 2-ab: the scikit-learn SVM baselines."""
