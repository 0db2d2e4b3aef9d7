pytest_plugins = ["hhc_devstack.pytest_plugin"]
