raise RuntimeError("no database\nconfigured")
