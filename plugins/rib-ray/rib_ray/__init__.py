"""rib-ray: `rib bench --launcher ray`. Importing this module is cheap: ray loads with the launcher."""

from rib_core.api import hookimpl

__version__ = "0.2.0"


@hookimpl
def register_launchers(register):
    register("ray", "rib_ray.launcher:RayLauncher", "one Ray task per job on a Ray cluster (retried on node failure)",
             arguments="rib_ray:add_arguments")


def add_arguments(group):
    group.add_argument("--ray-address", metavar="ADDR",
                       help="ray: the cluster to join (e.g. ray://head:10001 or auto); default: RAY_ADDRESS, "
                            "else a new Ray instance on this machine")
    group.add_argument("--ray-num-cpus", type=int, metavar="N",
                       help="ray: CPUs of the instance started on this machine (default: all)")
