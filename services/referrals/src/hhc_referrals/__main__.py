from hhc_referrals.app import main

main()
