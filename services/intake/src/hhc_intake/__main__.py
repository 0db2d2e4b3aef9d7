from hhc_intake.app import main

main()
