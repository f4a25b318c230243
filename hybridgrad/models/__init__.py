"""Models (the models branch brings the registry; this placeholder only makes the package).

Example:
    >>> from hybridgrad.models.captcha import CRNN
    >>> CRNN.__name__
    'CRNN'
"""
