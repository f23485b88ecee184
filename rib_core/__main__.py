from rib_core.cli import main

raise SystemExit(main())
