from jaxlint.cli import main

if __name__ == "__main__":
    main(prog_name="jaxlint")  # `python -m jaxlint` reads as `jaxlint` in help and errors
