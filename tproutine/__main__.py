from tproutine.cli import main

raise SystemExit(main())
