using Appliance.Metrics.Counters;
using Prometheus;

namespace Appliance.Metrics.Export;

/// <summary>
/// Copies a <see cref="LatencyHistogram"/> into a prometheus-net histogram with the same bounds. At each scrape
/// the new observations of every bucket are replayed as one weighted observation placed inside that bucket;
/// the values are chosen so the exported sum matches the recorded sum (every real value lay in its bucket, so
/// such a choice always exists).
/// </summary>
internal sealed class HistogramMirror(LatencyHistogram source)
{
    private readonly long[] _last = new long[source.BucketCount];
    private readonly long[] _current = new long[source.BucketCount];
    private readonly double[] _values = new double[source.BucketCount];
    private readonly double[] _floors = new double[source.BucketCount];
    private double _lastSum;

    public void CopyInto(IHistogram target)
    {
        double sum = source.Read(_current);
        double deltaSum = sum - _lastSum;
        _lastSum = sum;
        var bounds = source.BoundsSeconds;
        int last = _current.Length - 1;
        double planned = 0;
        for (int i = 0; i <= last; i++)
        {
            long delta = _current[i] - _last[i];
            _last[i] = _current[i];
            _current[i] = delta;
            double lower = i == 0 ? 0 : bounds[i - 1];
            if (i == last)
            {
                // +Inf: anything above the last bound; start just above it, grow as the sum needs.
                _floors[i] = _values[i] = lower + Math.Max(lower * 1e-6, 1e-9);
            }
            else
            {
                // Bucket i holds (lower, upper]; stay a hair above lower so rounding keeps the value inside.
                _floors[i] = i == 0 ? 0 : lower + (bounds[i] - lower) * 1e-6;
                _values[i] = bounds[i];
            }
            planned += _values[i] * delta;
        }

        double difference = deltaSum - planned;
        if (difference > 0 && _current[last] > 0)
        {
            _values[last] += difference / _current[last]; // only the +Inf bucket can take more
        }
        else if (difference < 0)
        {
            double remaining = -difference;
            for (int i = last; i >= 0 && remaining > 0; i--)
            {
                long delta = _current[i];
                if (delta == 0) continue;
                double room = (_values[i] - _floors[i]) * delta;
                double take = Math.Min(room, remaining);
                _values[i] -= take / delta;
                remaining -= take;
            }
        }

        for (int i = 0; i <= last; i++)
        {
            if (_current[i] > 0) target.Observe(_values[i], _current[i]);
        }
    }
}
