from slipway.main import main

main()
