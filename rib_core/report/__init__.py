"""Reports: the data structure behind every output, the terminal view, exports and plots."""
