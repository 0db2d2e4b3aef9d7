from hhc_enforcement.app import main

main()
