//===- NpyTest.cpp - The .npy reader and writer ---------------------------===//

#include "nuri/npy/Npy.h"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>

using namespace nuri;

namespace {

TEST(Npy, RoundTripEveryDtype) {
  using graph::DType;
  for (DType d : {DType::F32, DType::F16, DType::F64, DType::I8, DType::I16,
                  DType::I32, DType::I64, DType::U8, DType::Bool}) {
    std::vector<int64_t> shape = {2, 3};
    std::vector<uint8_t> data(6 * graph::dtypeSize(d));
    for (size_t i = 0; i < data.size(); ++i) {
      data[i] = d == DType::Bool ? uint8_t(i % 2) : uint8_t(i * 13);
    }
    std::vector<uint8_t> file =
        npy::serialize(d, shape, data.data(), data.size());
    EXPECT_EQ((file.size() - data.size()) % 64, 0u); // aligned data
    Result<npy::Array> a = npy::parse(file.data(), file.size());
    ASSERT_TRUE(a) << a.error();
    EXPECT_EQ(a->dtype, d) << graph::dtypeName(d);
    EXPECT_EQ(a->shape, shape);
    EXPECT_EQ(a->data, data);
  }
}

TEST(Npy, ScalarAndVector) {
  float v = 2.5f;
  std::vector<uint8_t> f = npy::serialize(graph::DType::F32, {}, &v, 4);
  Result<npy::Array> a = npy::parse(f.data(), f.size());
  ASSERT_TRUE(a) << a.error();
  EXPECT_TRUE(a->shape.empty());
  float w[3] = {1, 2, 3};
  f = npy::serialize(graph::DType::F32, {3}, w, 12);
  EXPECT_NE(std::string(f.begin(), f.end()).find("(3,)"), std::string::npos);
  a = npy::parse(f.data(), f.size());
  ASSERT_TRUE(a) << a.error();
  EXPECT_EQ(a->shape, (std::vector<int64_t>{3}));
}

TEST(Npy, NumpyWrittenFile) {
  // What numpy 1.x writes for np.arange(6, dtype='<i8').reshape(2, 3).
  std::string header = "{'descr': '<i8', 'fortran_order': False, 'shape': "
                       "(2, 3), }";
  header.append(118 - header.size() - 1, ' ');
  header += '\n';
  std::vector<uint8_t> file = {
      0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, uint8_t(header.size()), 0};
  file.insert(file.end(), header.begin(), header.end());
  for (int64_t i = 0; i < 6; ++i) {
    uint8_t b[8];
    std::memcpy(b, &i, 8);
    file.insert(file.end(), b, b + 8);
  }
  Result<npy::Array> a = npy::parse(file.data(), file.size());
  ASSERT_TRUE(a) << a.error();
  EXPECT_EQ(a->dtype, graph::DType::I64);
  EXPECT_EQ(a->shape, (std::vector<int64_t>{2, 3}));
}

TEST(Npy, BadFilesAreClearErrors) {
  float v[4] = {};
  std::vector<uint8_t> good = npy::serialize(graph::DType::F32, {4}, v, 16);
  Result<npy::Array> r = npy::readFile("/nonexistent.npy");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("/nonexistent.npy: cannot open"), std::string::npos);
  for (size_t n = 0; n < good.size(); ++n) {
    Result<npy::Array> cut = npy::parse(good.data(), n, "cut.npy");
    ASSERT_FALSE(cut) << n;
    EXPECT_EQ(cut.error().rfind("cut.npy: not a readable .npy file", 0), 0u);
  }
  std::string s(good.begin(), good.end());
  std::string fortran = s;
  fortran.replace(fortran.find("False"), 5, "True ");
  r = npy::parse(reinterpret_cast<const uint8_t *>(fortran.data()),
                 fortran.size());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("Fortran"), std::string::npos);
  std::string complex = s;
  complex.replace(complex.find("<f4"), 3, "<c8");
  r = npy::parse(reinterpret_cast<const uint8_t *>(complex.data()),
                 complex.size());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("unsupported dtype '<c8'"), std::string::npos);
  for (size_t i = 0; i < good.size(); ++i) {
    std::vector<uint8_t> bad = good;
    bad[i] ^= 0xFF;
    (void)npy::parse(bad.data(), bad.size()); // must not crash
  }
}

} // namespace
