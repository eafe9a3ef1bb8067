//===- Npy.cpp - Reading and writing NumPy .npy files ---------------------===//

#include "nuri/npy/Npy.h"

#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>

namespace nuri::npy {

using graph::DType;

namespace {

struct DescrEntry {
  const char *descr;
  DType dtype;
};
// Accepted descrs; the first one per dtype is what we write.
constexpr DescrEntry kDescrs[] = {
    {"<f4", DType::F32},  {"<f2", DType::F16}, {"<f8", DType::F64},
    {"|i1", DType::I8},   {"<i2", DType::I16}, {"<i4", DType::I32},
    {"<i8", DType::I64},  {"|u1", DType::U8},  {"<u2", DType::U16},
    {"<u4", DType::U32},  {"<u8", DType::U64}, {"|b1", DType::Bool},
    {"<i1", DType::I8},   {"<u1", DType::U8},  {"|i1", DType::I8},
    {"<b1", DType::Bool},
};

// Finds `'key':` in the header dict and returns the text after it.
std::string afterKey(const std::string &header, const std::string &key) {
  size_t k = header.find("'" + key + "'");
  if (k == std::string::npos) {
    return "";
  }
  size_t colon = header.find(':', k);
  if (colon == std::string::npos) {
    return "";
  }
  size_t start = header.find_first_not_of(" ", colon + 1);
  return start == std::string::npos ? "" : header.substr(start);
}

} // namespace

std::string descrOf(DType dtype) {
  for (const DescrEntry &e : kDescrs) {
    if (e.dtype == dtype) {
      return e.descr;
    }
  }
  return "";
}

Result<Array> parse(const uint8_t *bytes, size_t size,
                    const std::string &origin) {
  auto fail = [&](const std::string &why) {
    return Result<Array>::failure(origin +
                                  ": not a readable .npy file: " + why);
  };
  if (size < 10 || std::memcmp(bytes, "\x93NUMPY", 6) != 0) {
    return fail("bad magic");
  }
  uint8_t major = bytes[6];
  size_t headerLen, start;
  if (major == 1) {
    headerLen = bytes[8] | (size_t(bytes[9]) << 8);
    start = 10;
  } else if (major == 2 || major == 3) {
    if (size < 12) {
      return fail("truncated header");
    }
    headerLen = bytes[8] | (size_t(bytes[9]) << 8) | (size_t(bytes[10]) << 16) |
                (size_t(bytes[11]) << 24);
    start = 12;
  } else {
    return fail("unsupported version " + std::to_string(major));
  }
  if (headerLen > size - start) {
    return fail("header runs past the end of the file");
  }
  std::string header(reinterpret_cast<const char *>(bytes + start), headerLen);
  std::string descr = afterKey(header, "descr");
  if (descr.size() < 2 || descr[0] != '\'') {
    return fail("no 'descr' in the header");
  }
  descr = descr.substr(1, descr.find('\'', 1) - 1);
  Array array;
  bool known = false;
  for (const DescrEntry &e : kDescrs) {
    if (descr == e.descr) {
      array.dtype = e.dtype;
      known = true;
      break;
    }
  }
  if (!known) {
    return fail("unsupported dtype '" + descr + "'");
  }
  std::string order = afterKey(header, "fortran_order");
  if (order.rfind("False", 0) != 0) {
    return fail("Fortran order is not supported");
  }
  std::string shape = afterKey(header, "shape");
  if (shape.empty() || shape[0] != '(') {
    return fail("no 'shape' in the header");
  }
  size_t close = shape.find(')');
  if (close == std::string::npos) {
    return fail("unterminated shape");
  }
  std::string dims = shape.substr(1, close - 1);
  int64_t elements = 1;
  std::stringstream ss(dims);
  std::string item;
  while (std::getline(ss, item, ',')) {
    size_t b = item.find_first_not_of(" ");
    if (b == std::string::npos) {
      continue;
    }
    item = item.substr(b, item.find_last_not_of(" L") - b + 1);
    if (item.empty() || item.size() > 15 ||
        item.find_first_not_of("0123456789") != std::string::npos) {
      return fail("bad dimension '" + item + "'");
    }
    int64_t d = std::stoll(item);
    if (d && elements > (int64_t(1) << 40) / d) {
      return fail("shape too large");
    }
    elements *= d;
    array.shape.push_back(d);
  }
  size_t need = static_cast<size_t>(elements) * graph::dtypeSize(array.dtype);
  size_t dataStart = start + headerLen;
  if (size - dataStart != need) {
    return fail("expected " + std::to_string(need) + " data bytes for shape (" +
                dims + "), found " + std::to_string(size - dataStart));
  }
  array.data.assign(bytes + dataStart, bytes + size);
  return array;
}

Result<Array> readFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Result<Array>::failure(path + ": cannot open");
  }
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                             std::istreambuf_iterator<char>());
  return parse(bytes.data(), bytes.size(), path);
}

std::vector<uint8_t> serialize(DType dtype, const std::vector<int64_t> &shape,
                               const void *data, size_t bytes) {
  std::string descr = descrOf(dtype);
  if (descr.empty()) {
    descr = graph::dtypeSize(dtype) == 2 ? "<u2" : "|u1";
  }
  std::string dims;
  for (int64_t d : shape) {
    dims += std::to_string(d) + ",";
  }
  if (shape.size() > 1) {
    dims.pop_back();
  }
  std::string header = "{'descr': '" + descr +
                       "', 'fortran_order': False, 'shape': (" + dims + "), }";
  // Pad so that the data starts on a 64-byte boundary, ending with '\n'.
  size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::vector<uint8_t> out = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0};
  out.push_back(static_cast<uint8_t>(header.size() & 0xFF));
  out.push_back(static_cast<uint8_t>(header.size() >> 8));
  out.insert(out.end(), header.begin(), header.end());
  const uint8_t *p = static_cast<const uint8_t *>(data);
  out.insert(out.end(), p, p + bytes);
  return out;
}

Result<bool> writeFile(const std::string &path, DType dtype,
                       const std::vector<int64_t> &shape, const void *data,
                       size_t bytes) {
  std::vector<uint8_t> out = serialize(dtype, shape, data, bytes);
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char *>(out.data()),
          static_cast<std::streamsize>(out.size()));
  f.close();
  if (!f) {
    return Result<bool>::failure(path + ": cannot write");
  }
  return true;
}

} // namespace nuri::npy
