"""One module per block kind."""
