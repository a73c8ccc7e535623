"""Training workloads the executors run, and the context they are handed.

context: `WorkerContext`, what a gang rank's entrypoint `module:function` receives. sample: a small
NumPy model that checkpoints and resumes (the demo and the Ray tests use it). Nothing here imports
the rest of the scheduler: this code runs inside Ray workers, far from the coordinator.
"""
