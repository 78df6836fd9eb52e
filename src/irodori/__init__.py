"""irodori: interactive line-art colorization with Concatenated Spatial Attention."""

__version__ = "0.1.0"
