"""Reporting service: ``python -m hhc_reporting`` serves; ``... rebuild`` rebuilds the
projections from the topics (rebuild.py)."""

import sys

if sys.argv[1:] == ["rebuild"]:
    from hhc_reporting.rebuild import main as rebuild

    rebuild()
elif sys.argv[1:]:
    sys.exit("usage: python -m hhc_reporting [rebuild]")
else:
    from hhc_reporting.app import main

    main()
