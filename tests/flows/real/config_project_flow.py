"""Weekly-report flow whose @project name is taken from a JSON Config."""

from metaflow import Config, FlowSpec, Parameter, config_expr, current, project, step


# A class decorator is evaluated before the class body, so the Config attribute
# is referenced through config_expr (as Metaflow's own config tests do).
@project(name=config_expr("config.project_name"))
class ConfigProjectFlow(FlowSpec):
    """
    Sum up fake sales per region, tagged with the project and branch names
    that @project derives from the config.
    """

    config = Config("config", default="config_project.json")
    defaults = Config("defaults", default_value={"week": 12, "units_per_day": 3})

    week = Parameter("week", help="Week number to report on.", type=int, default=12)

    @step
    def start(self):
        """Record the project namespace set up by @project."""
        self.project_name = current.project_name
        self.branch_name = current.branch_name
        self.project_flow_name = current.project_flow_name
        self.regions = list(self.config.report.regions)
        print(f"project={self.project_name} branch={self.branch_name} flow={self.project_flow_name}")
        self.next(self.aggregate)

    @step
    def aggregate(self):
        """Compute deterministic per-region totals for the requested week."""
        per_day = self.defaults.units_per_day
        self.totals = {region: (self.week * (i + 1) + per_day * 7) for i, region in enumerate(self.regions)}
        self.next(self.end)

    @step
    def end(self):
        """Print the report."""
        report = self.config.report
        print(f"{report.title}, week {self.week} ({report.currency})")
        for region, total in sorted(self.totals.items()):
            print(f"  {region:<6} {total:>5}")


if __name__ == "__main__":
    ConfigProjectFlow()
