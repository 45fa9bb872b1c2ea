"""python -m sandbox --host 127.0.0.1 --port 8100"""

import argparse

from .server import serve


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8100)
    parser.add_argument("--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    serve(args.host, args.port, verbose=args.verbose)


if __name__ == "__main__":
    main()
