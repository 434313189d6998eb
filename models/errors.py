"""The one exception type models raise for problems the user can fix."""


class ModelConfigError(ValueError):
    """An impossible model configuration; the message is shown to the user as is."""
