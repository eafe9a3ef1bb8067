//===- TestUtil.h - Helpers shared by the simulator tests -------*- C++ -*-===//

#ifndef NURI_TESTS_SIMULATOR_TESTUTIL_H
#define NURI_TESTS_SIMULATOR_TESTUTIL_H

#include "TestFiles.h"

#include "nuri/sim/Simulator.h"

#include <gtest/gtest.h>

#endif // NURI_TESTS_SIMULATOR_TESTUTIL_H
