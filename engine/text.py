"""Text from run folders and arguments made safe to print on one terminal line."""


def one_line(text: object) -> str:
    """Newlines and control characters (escape sequences from a hostile run folder or an argument)
    are shown escaped, as Python's ascii() writes them."""
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in str(text))
