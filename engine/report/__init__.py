"""Reports from saved runs: the results table (tables), a document in Markdown, HTML or LaTeX written as
a folder that is complete or absent (document), the report of a set of runs (build), and `nnlab
reproduce`'s experiment lists of the lab's two parts (reproduce)."""
