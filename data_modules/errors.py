"""The one exception type data modules raise for problems the user can fix."""


class DataError(ValueError):
    """Bad input data or data configuration; the message is shown to the user as is."""
