"""The exporter's only error type: one line that names the file, the problem and what to do."""


class ExportError(Exception):
    def __init__(self, file: str, problem: str, fix: str):
        super().__init__(f"{file}: {problem}; {fix}")
        self.file = file
        self.problem = problem
        self.fix = fix

    def line(self) -> str:
        # One line, whatever the problem text holds.
        return " ".join(f"export: {self.file}: {self.problem}; {self.fix}".split())
