from hhc_reporting.app import main

main()
