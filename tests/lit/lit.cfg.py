# lit configuration for Nuri's FileCheck tests.
import os
import lit.formats

config.name = "Nuri"
config.test_format = lit.formats.ShTest(execute_external=True)
config.suffixes = [".mlir", ".test"]
config.excludes = ["lit.cfg.py", "lit.site.cfg.py", "CMakeLists.txt", "Inputs"]
config.test_source_root = os.path.dirname(__file__)
# Outputs go to the build tree (lit.site.cfg.py sets the root), never the sources.

# Tools come from the build first, then LLVM's FileCheck, not, count, split-file.
path = os.pathsep.join([config.nuri_tools_dir, config.llvm_tools_dir,
                        config.environment.get("PATH", os.environ.get("PATH", ""))])
config.environment["PATH"] = path
config.substitutions.append(("%shared", config.nuri_shared_dir))
# The real models live beside the checkout (../shared); a clone without them
# skips the tests that read them, as CMake skips the model tests.
if os.path.isdir(os.path.join(config.nuri_shared_dir, "models")):
    config.available_features.add("shared-models")
config.substitutions.append(("%nuri_src", config.nuri_source_dir))
