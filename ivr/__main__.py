from ivr.app import main

main()
