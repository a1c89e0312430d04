"""Figures of saved runs, drawn by matplotlib on the Agg backend (no display needed): curves of one or
several runs (curves), decision-boundary snapshots of a circles run (boundary), SVM regions (svm), the
confusion matrix and sample predictions (artifacts), a sweep or study (sweep); style (colours, markers,
legend labels) and save (atomic writes, .png/.svg/.pdf).

Every drawing function returns a matplotlib Figure made without pyplot (no global state: safe from a
worker thread); save.save_figure writes it. Import the submodules, not this package's names: matplotlib
loads only when a figure is asked for.
"""
