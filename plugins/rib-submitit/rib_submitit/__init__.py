"""rib-submitit: `rib bench --launcher submitit`. Importing this module is cheap: submitit loads with the launcher."""

from rib_core.api import hookimpl

__version__ = "0.2.0"


@hookimpl
def register_launchers(register):
    register("submitit", "rib_submitit.launcher:SubmititLauncher",
             "SLURM jobs through submitit (--cluster local: subprocesses on this machine)",
             arguments="rib_submitit:add_arguments")


def add_arguments(group):
    group.add_argument("--cluster", choices=("auto", "slurm", "local"), default="auto",
                       help="submitit: slurm, local (subprocesses here) or auto (slurm where sbatch exists)")
    group.add_argument("--slurm-partition", metavar="P", help="submitit: the SLURM partition of every job")
    group.add_argument("--slurm-time", type=int, default=24 * 60, metavar="MINUTES",
                       help="submitit: each job's time limit; at the limit SLURM requeues it and it resumes "
                            "(default 1440)")
    group.add_argument("--slurm-option", action="append", default=[], metavar="KEY=VALUE",
                       help="submitit: any further sbatch option (e.g. account=lab, qos=high), repeatable")
    group.add_argument("--submitit-folder", metavar="DIR",
                       help="submitit: where job scripts and logs go (default: OUT/launch/submitit)")
