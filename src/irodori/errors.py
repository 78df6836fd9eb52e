"""Errors that carry a message meant for the user (the CLI prints them without a traceback)."""


class IrodoriError(Exception):
    """Base class: a problem with the user's input, files or configuration."""

    exit_code = 2


class ConfigError(IrodoriError):
    """A configuration file or override is invalid."""


class WeightsError(IrodoriError):
    """A pretrained weight file is missing, corrupt or does not match its checksum."""


class InputError(IrodoriError):
    """An input image or hint file cannot be used."""


class ConvertError(WeightsError):
    """Third-party weights cannot be converted (wrong format, unexpected layout, fetch failed)."""


class UnreadableImage(InputError):
    """A file that is not an image this program decodes, or whose data is corrupt (the web app's 415)."""


class TooLarge(InputError):
    """An input over a size limit: pixels, bytes or hinted area (the web app's 413)."""


class PrepareError(IrodoriError):
    """A data set or its line art could not be prepared (missing source package, no usable files)."""
