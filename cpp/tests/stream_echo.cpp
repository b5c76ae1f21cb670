/* A C++ peer for python/tests/test_stream.py (not a ctest program): frames
 * from stdin back to stdout through zipc::stream_reader / stream_writer,
 * re-encoding what the C++ binding knows how to encode — text with
 * write_text, C-contiguous float32 tensors with write_tensor — and passing
 * everything else through as is. Exit 0 at the clean end of the stream, 3
 * on a zipc::error, 4 on a tensor that does not parse. */
#include <zipc.hpp>

#include <unistd.h>

#include <cstdio>

int main()
{
    try {
        zipc::stream_reader in(STDIN_FILENO);
        zipc::stream_writer out(STDOUT_FILENO);
        while (auto f = in.read()) {
            if (f->type() == zipc::type_id::str) {
                out.write_text(f->text());
            } else if (f->type() == zipc::type_id::tensor) {
                auto t = f->tensor();
                if (!t)
                    return 4;
                if (t->dtype() == zipc::dtype_of<float>() && t->contiguous())
                    out.write_tensor(t->data_as<float>(), t->shape());
                else
                    out.write(f->type(), f->payload());
            } else {
                out.write(f->type(), f->payload());
            }
        }
    } catch (const zipc::error &e) {
        std::fprintf(stderr, "stream_echo: %s\n", e.what());
        return 3;
    }
    return 0;
}
