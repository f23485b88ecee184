"""A report-format plugin: `rib report DIR --format mylab-markdown` prints mRI as a Markdown table."""
from rib_core.api import hookimpl


@hookimpl
def register_formats(register):
    register("mylab-markdown", "markdown_format:write", "mRI per model and strategy as a Markdown table")


def write(report: dict, stream) -> None:
    """`report` is the dict `rib report --format json` writes (docs/plugins.md); `stream` a text stream."""
    stream.write("| model | strategy | mRI | 95% interval |\n| --- | --- | --- | --- |\n")
    for row in report["mri"]:
        low, high = row["mri_ci"]
        stream.write(f"| {row['model']} | {row['strategy']} | {row['mri']:.2f} | {low:.2f} to {high:.2f} |\n")
    if report["incomplete_cells"]:
        stream.write(f"\n{report['incomplete_cells']} evaluation(s) missing: the table is not final.\n")
