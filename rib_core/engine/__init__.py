"""The protocol engine: plan the grid of cells, run them, store results, read them back."""
