"""Backprop Lab web service: FastAPI app factory, settings and routers."""

__version__ = "0.1.0"
