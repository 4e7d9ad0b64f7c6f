"""Sample requests built from the catalog, so tests follow the data."""
from onestop.dev.samples import dossier  # noqa: F401
