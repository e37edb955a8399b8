from anemos.cli import main

main()
