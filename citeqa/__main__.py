from citeqa.launch import main

main()
