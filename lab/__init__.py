"""The incident lab: lab-speed rules generated from the production ones, and game days."""
