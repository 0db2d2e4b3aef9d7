from hhc_risk.app import main

main()
