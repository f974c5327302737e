using System.Collections;
using System.Reflection;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using System.Runtime.CompilerServices;

namespace Sweeper.Training.Quantized;

/// <summary>
/// Puts a <see cref="QuantizationPlan"/> into any TorchSharp model (a plug-in's): every <c>Conv2d</c> and <c>Linear</c>
/// is replaced by the quantized layers the built-in models use, so that training, diagnostics, flips, the stability
/// monitor, checkpoints and <see cref="QuantizedExport"/> treat it like a built-in model.
/// <list type="bullet">
/// <item>A <c>Conv2d</c> directly followed by a <c>BatchNorm2d</c> inside a <c>Sequential</c> (the only place where the
/// forward order is certain) becomes one <see cref="ConvBn"/> (activation none) with the plan's BN folding recipe, and
/// the BatchNorm becomes an <c>Identity</c>. The convolution's bias, if any, moves into the running mean
/// (<c>μ − b</c>: exact, BN subtracts any constant), γ, β and the running statistics are copied, and with the recipes
/// <c>none</c> and <c>pytorch</c> the BatchNorm keeps its ε and momentum (<c>qkeras</c> uses its own, 1e-3 and 0.01).
/// This needs a square kernel k, padding k/2, a square stride, no dilation and zero padding mode; otherwise, and
/// for BatchNorms without affine parameters or running statistics, the pair stays two modules (the convolution becomes
/// a <see cref="QuantConv2d"/>).</item>
/// <item>Every other <c>Conv2d</c> becomes a <see cref="QuantConv2d"/> (square stride and padding, no dilation, zero
/// padding mode; else a <see cref="NotSupportedException"/>), every <c>Linear</c> a <see cref="QuantLinear"/> (a missing
/// bias becomes a zero bias that is not trained).</item>
/// <item>Roles: the first <c>Conv2d</c> in module order (depth-first, in registration order: PyTorch's
/// <c>named_modules</c> order) is the stem and the last <c>Linear</c> the classifier; both stay in float unless
/// <c>quantize_first_last</c>. A depthwise convolution (groups = in = out channels &gt; 1) follows
/// <c>depthwise_per_channel</c>.</item>
/// <item>Weights and biases keep their initialized values.</item>
/// </list>
/// A replaced module is swapped both where the parent registered it (what <c>named_modules</c>, <c>parameters</c> and
/// <c>state_dict</c> read) and in every field of the parent that holds it, directly or in a list, array or dictionary
/// (what the parent's <c>forward</c> uses; this covers <c>Sequential</c>, <c>ModuleList</c> and <c>ModuleDict</c>).
/// A field whose declared type cannot hold the replacement (e.g. <c>Conv2d conv1</c>) is an error that asks for
/// <c>Module&lt;Tensor, Tensor&gt;</c>; so is a <c>Conv2d</c>/<c>Linear</c> held in a field but never registered
/// (<c>RegisterComponents()</c> not called). Modules reached any other way (closures, static fields, another module's
/// fields) are not seen. Other layer types (<c>Conv1d</c>, <c>ConvTranspose2d</c>, ...) stay in float.
/// </summary>
public static class ModuleSurgery
{
    private static readonly FieldInfo Submodules = typeof(nn.Module).GetField("_internal_submodules", BindingFlags.Instance | BindingFlags.NonPublic)
        ?? throw new InvalidOperationException("TorchSharp's Module has no _internal_submodules field: this TorchSharp version is not supported by ModuleSurgery.");

    private static readonly HashSet<string> RegistryFields = ["_internal_submodules", "_internal_params", "_internal_buffers"];

    /// <summary>
    /// Replaces the Conv2d and Linear layers of <paramref name="model"/> in place as the class summary says, disposes the
    /// replaced modules and returns a <see cref="QuantizedModel"/> that forwards to <paramref name="model"/> and lists
    /// its quantizable layers, named by their module paths in <paramref name="model"/>.
    /// </summary>
    /// <param name="model">A float model; on success owned by the result (on failure it may be partly changed: dispose it).</param>
    /// <param name="plan">Quantizer and BN folding.</param>
    /// <param name="name">The result's module name (e.g. the plug-in's type name).</param>
    /// <exception cref="ArgumentException"><paramref name="model"/> is itself a Conv2d or Linear.</exception>
    /// <exception cref="NotSupportedException">A layer that cannot be replaced (a field of a type that cannot hold the replacement, an unregistered layer, an unsupported convolution); the message names it.</exception>
    public static QuantizedModel Apply(nn.Module<Tensor, Tensor> model, QuantizationPlan plan, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(plan);
        if (model is Conv2d or Linear)
            throw new ArgumentException($"The model is itself a {model.GetType().Name}; wrap it in a Sequential.", nameof(model));

        var nodes = Traverse(model);
        var firstConv = nodes.Select(n => n.Module).OfType<Conv2d>().FirstOrDefault();
        var lastLinear = nodes.Select(n => n.Module).OfType<Linear>().LastOrDefault();
        var paths = new Dictionary<nn.Module, string>(ReferenceEqualityComparer.Instance);
        foreach (var node in nodes) paths.TryAdd(node.Module, node.Path);

        // 1. Plan every replacement (no change yet).
        var replacements = new Dictionary<nn.Module, nn.Module>(ReferenceEqualityComparer.Instance);
        try
        {
            foreach (var sequential in nodes.Select(n => n.Module).Prepend(model).OfType<Sequential>().Distinct(ReferenceEqualityComparer.Instance).Cast<Sequential>())
            {
                var children = sequential.named_children().Select(c => c.module).ToList();
                for (int i = 0; i + 1 < children.Count; i++)
                {
                    if (children[i] is not Conv2d conv || children[i + 1] is not BatchNorm2d bn) continue;
                    if (replacements.ContainsKey(conv) || replacements.ContainsKey(bn) || !CanFold(conv, bn)) continue;
                    replacements[conv] = FoldedConvBn(conv, bn, ReferenceEquals(conv, firstConv) ? LayerRole.First : LayerRole.Body, plan);
                    replacements[bn] = nn.Identity();
                    i++;
                }
            }
            foreach (var node in nodes)
            {
                if (replacements.ContainsKey(node.Module)) continue;
                switch (node.Module)
                {
                    case Conv2d conv:
                        replacements[conv] = Convolution(conv, node.Path, ReferenceEquals(conv, firstConv) ? LayerRole.First : LayerRole.Body, plan);
                        break;
                    case Linear linear:
                        replacements[linear] = FullyConnected(linear, ReferenceEquals(linear, lastLinear) ? LayerRole.Last : LayerRole.Body, plan);
                        break;
                }
            }

            // 2. Check that every reference can take its replacement, then 3. swap.
            foreach (var dryRun in new[] { true, false })
            {
                foreach (var node in nodes)
                {
                    if (replacements.TryGetValue(node.Module, out var replacement))
                        Replace(node.Parent, node.Name, node.Module, replacement, node.Path, dryRun);
                }
            }
        }
        catch
        {
            foreach (var replacement in replacements.Values) replacement.Dispose();
            throw;
        }

        foreach (var old in replacements.Keys) old.Dispose();
        CheckNoneLeft(model, replacements);
        return new QuantizedModel(name ?? model.GetName(), model);
    }

    /// <summary>(parent, name, child, path) for every registered submodule, depth-first in registration order; shared modules once per place.</summary>
    private static List<Node> Traverse(nn.Module root)
    {
        var nodes = new List<Node>();
        var seen = new HashSet<nn.Module>(ReferenceEqualityComparer.Instance) { root };
        Visit(root, "");
        return nodes;

        void Visit(nn.Module parent, string prefix)
        {
            foreach (var (childName, child) in parent.named_children())
            {
                var path = prefix.Length == 0 ? childName : $"{prefix}.{childName}";
                nodes.Add(new Node(parent, childName, child, path));
                if (seen.Add(child)) Visit(child, path);
            }
        }
    }

    private static bool CanFold(Conv2d conv, BatchNorm2d bn) =>
        bn.affine && bn.track_running_stats && bn.weight is not null && bn.bias is not null && bn.running_mean is not null && bn.running_var is not null
        && bn.num_features == conv.out_channels
        && Geometry(conv) is { } g && g.KernelHeight == g.KernelWidth && g.Padding == g.KernelHeight / 2;

    /// <summary>The convolution's geometry when it is square-strided, square-padded with zeros and undilated; else null.</summary>
    private static ConvGeometry? Geometry(Conv2d conv)
    {
        var k = conv.kernel_size;
        var s = conv.stride;
        if (k.Length != 2 || s.Length != 2 || s[0] != s[1]) return null;
        if (conv.dilation.Any(d => d != 1) || conv.padding_mode != PaddingModes.Zeros) return null;
        long[] padding = conv.padding_type switch
        {
            TorchSharp.Padding.Valid => [0, 0],
            TorchSharp.Padding.Same when s[0] == 1 && k[0] % 2 == 1 && k[1] % 2 == 1 => [k[0] / 2, k[1] / 2],
            TorchSharp.Padding.Same => [-1, -2],
            _ => conv.padding ?? [0, 0],
        };
        if (padding.Length != 2 || padding[0] != padding[1] || padding[0] < 0) return null;
        return new ConvGeometry((int)k[0], (int)k[1], (int)s[0], (int)padding[0]);
    }

    private static ConvBn FoldedConvBn(Conv2d conv, BatchNorm2d bn, LayerRole role, QuantizationPlan plan)
    {
        var g = Geometry(conv)!.Value;
        var layer = new ConvBn((int)conv.in_channels, (int)conv.out_channels, g.KernelHeight, g.Stride, (int)conv.groups, Activation.None, role, plan);
        using var noGrad = torch.no_grad();
        layer.Weight.copy_(conv.weight!);
        var target = layer.BatchNorm;
        target.weight!.copy_(bn.weight!);
        target.bias!.copy_(bn.bias!);
        target.running_mean!.copy_(conv.bias is { } b ? bn.running_mean! - b : bn.running_mean!);
        target.running_var!.copy_(bn.running_var!);
        if (bn.num_batches_tracked is { } n) target.num_batches_tracked?.copy_(n);
        if (layer.Folding != BatchNormFolding.QKeras)
        {
            target.eps = bn.eps;
            target.momentum = bn.momentum;
        }
        if (!bn.training) layer.eval();
        return layer;
    }

    private static QuantConv2d Convolution(Conv2d conv, string path, LayerRole role, QuantizationPlan plan)
    {
        if (Geometry(conv) is not { } g)
            throw new NotSupportedException(
                $"Layer '{path}': a Conv2d with kernel ({string.Join(", ", conv.kernel_size)}), stride ({string.Join(", ", conv.stride)}), " +
                $"padding {(conv.padding_type is { } t ? t.ToString() : $"({string.Join(", ", conv.padding ?? [])})")}, dilation ({string.Join(", ", conv.dilation)}) " +
                $"and padding mode {conv.padding_mode} cannot be quantized: use equal strides, equal zero padding and no dilation.");
        var layer = new QuantConv2d((int)conv.in_channels, (int)conv.out_channels, g.KernelHeight, g.KernelWidth, g.Stride, g.Padding,
            (int)conv.groups, bias: conv.bias is not null, role, plan);
        using var noGrad = torch.no_grad();
        layer.Weight.copy_(conv.weight!);
        if (conv.bias is { } bias) layer.Bias!.copy_(bias);
        if (!conv.training) layer.eval();
        return layer;
    }

    private static QuantLinear FullyConnected(Linear linear, LayerRole role, QuantizationPlan plan)
    {
        var layer = new QuantLinear((int)linear.in_features, (int)linear.out_features, role, plan);
        using var noGrad = torch.no_grad();
        layer.Weight.copy_(linear.weight!);
        if (linear.bias is { } bias) layer.Bias.copy_(bias);
        else layer.Bias.requires_grad = false; // stays zero: SGD and Adam skip parameters without gradients
        if (!linear.training) layer.eval();
        return layer;
    }

    /// <summary>
    /// Swaps <paramref name="old"/> for <paramref name="replacement"/> in <paramref name="parent"/>'s registry (name
    /// <paramref name="name"/>) and in every field of it that holds <paramref name="old"/> (or a list, array or dictionary
    /// holding it). With <paramref name="dryRun"/>, only checks that every such place can hold the replacement.
    /// </summary>
    private static void Replace(nn.Module parent, string name, nn.Module old, nn.Module replacement, string path, bool dryRun)
    {
        var registry = (TorchSharp.Utils.OrderedDict<string, nn.Module>)Submodules.GetValue(parent)!;
        if (!dryRun && registry.TryGetValue(name, out var registered) && ReferenceEquals(registered, old)) registry[name] = replacement;

        for (var type = parent.GetType(); type is not null && type != typeof(object); type = type.BaseType)
        {
            foreach (var field in type.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
            {
                if (type == typeof(nn.Module) && RegistryFields.Contains(field.Name)) continue;
                var value = field.GetValue(parent);
                switch (value)
                {
                    case null:
                        break;
                    case nn.Module module when ReferenceEquals(module, old):
                        if (!field.FieldType.IsInstanceOfType(replacement))
                            throw new NotSupportedException(
                                $"Layer '{path}': field '{field.Name}' of {type.Name} is declared as {Describe(field.FieldType)}, which cannot hold the quantized " +
                                $"{replacement.GetType().Name} that replaces it; declare the field as Module<Tensor, Tensor>.");
                        if (!dryRun) field.SetValue(parent, replacement);
                        break;
                    case IList list when value is not Tensor:
                        ReplaceInList(list, old, replacement, $"field '{field.Name}' of {type.Name}", path, dryRun);
                        break;
                    case IDictionary dictionary:
                        ReplaceInDictionary(dictionary, old, replacement, $"field '{field.Name}' of {type.Name}", path, dryRun);
                        break;
                }
            }
        }
    }

    private static void ReplaceInList(IList list, nn.Module old, nn.Module replacement, string where, string path, bool dryRun)
    {
        var element = ElementType(list.GetType());
        for (int i = 0; i < list.Count; i++)
        {
            var item = list[i];
            if (ReferenceEquals(item, old))
            {
                if (element is not null && !element.IsInstanceOfType(replacement))
                    throw new NotSupportedException(
                        $"Layer '{path}': {where} is a list of {Describe(element)}, which cannot hold the quantized {replacement.GetType().Name} " +
                        "that replaces it; use a list of Module<Tensor, Tensor>.");
                if (!dryRun) list[i] = replacement;
            }
            else if (item is ITuple { Length: 2 } pair && ReferenceEquals(pair[1], old) && element is { IsGenericType: true })
            {
                var second = element.GetGenericArguments()[1];
                if (!second.IsInstanceOfType(replacement))
                    throw new NotSupportedException(
                        $"Layer '{path}': {where} holds {Describe(second)} values, which cannot hold the quantized {replacement.GetType().Name} " +
                        "that replaces it; use Module<Tensor, Tensor>.");
                if (!dryRun) list[i] = Activator.CreateInstance(element, pair[0], replacement);
            }
        }
    }

    private static void ReplaceInDictionary(IDictionary dictionary, nn.Module old, nn.Module replacement, string where, string path, bool dryRun)
    {
        var type = dictionary.GetType();
        var valueType = type.IsGenericType && type.GetGenericArguments() is { Length: 2 } args ? args[1] : null;
        foreach (var key in dictionary.Keys.Cast<object>().ToList())
        {
            if (!ReferenceEquals(dictionary[key], old)) continue;
            if (valueType is not null && !valueType.IsInstanceOfType(replacement))
                throw new NotSupportedException(
                    $"Layer '{path}': {where} maps to {Describe(valueType)}, which cannot hold the quantized {replacement.GetType().Name} " +
                    "that replaces it; use Module<Tensor, Tensor> values.");
            if (!dryRun) dictionary[key] = replacement;
        }
    }

    private static Type? ElementType(Type listType)
    {
        if (listType.IsArray) return listType.GetElementType();
        var generic = listType.GetInterfaces().Append(listType)
            .FirstOrDefault(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IList<>));
        return generic?.GetGenericArguments()[0];
    }

    /// <summary>
    /// After the swap: no Conv2d or Linear is registered anywhere, and no module's field still holds a replaced module or
    /// an unregistered Conv2d/Linear (its forward would compute in float, outside the optimizer).
    /// </summary>
    private static void CheckNoneLeft(nn.Module model, IReadOnlyDictionary<nn.Module, nn.Module> replaced)
    {
        var nodes = Traverse(model);
        var registered = new HashSet<nn.Module>(nodes.Select(n => n.Module), ReferenceEqualityComparer.Instance);
        foreach (var node in nodes)
        {
            if (node.Module is Conv2d or Linear)
                throw new NotSupportedException($"Layer '{node.Path}': the {node.Module.GetType().Name} could not be replaced.");
        }
        foreach (var (owner, ownerPath) in nodes.Select(n => (n.Module, n.Path)).Prepend((model, "")).DistinctBy(n => n.Item1, ReferenceEqualityComparer.Instance))
        {
            for (var type = owner.GetType(); type is not null && type != typeof(object); type = type.BaseType)
            {
                foreach (var field in type.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
                {
                    if (type == typeof(nn.Module) && RegistryFields.Contains(field.Name)) continue;
                    IEnumerable<object?> values = field.GetValue(owner) switch
                    {
                        nn.Module m => [m],
                        IList list and not Tensor => list.Cast<object?>().Select(o => o is ITuple { Length: 2 } t ? t[1] : o),
                        IDictionary d => d.Values.Cast<object?>(),
                        _ => [],
                    };
                    foreach (var value in values)
                    {
                        if (value is not nn.Module module) continue;
                        var where = ownerPath.Length == 0 ? $"field '{field.Name}' of the model ({type.Name})" : $"field '{field.Name}' of '{ownerPath}' ({type.Name})";
                        if (replaced.ContainsKey(module))
                            throw new NotSupportedException($"{where} still holds a replaced {module.GetType().Name}: it is registered under another module; hold each layer in one place.");
                        if (module is Conv2d or Linear && !registered.Contains(module))
                            throw new NotSupportedException(
                                $"{where} holds a {module.GetType().Name} that is not a registered submodule (call RegisterComponents() in the constructor), so it cannot be quantized or trained.");
                    }
                }
            }
        }
    }

    private static string Describe(Type type) => type.IsGenericType
        ? $"{type.Name[..type.Name.IndexOf('`')]}<{string.Join(", ", type.GetGenericArguments().Select(Describe))}>"
        : type.Name;

    private sealed record Node(nn.Module Parent, string Name, nn.Module Module, string Path);

    private readonly record struct ConvGeometry(int KernelHeight, int KernelWidth, int Stride, int Padding);
}

/// <summary>
/// A model after <see cref="ModuleSurgery.Apply"/>: forwards to the model it wraps (registered as <c>model</c>, so its
/// parameters and buffers are this module's) and lists that model's quantizable layers, named by their paths in it.
/// </summary>
public sealed class QuantizedModel : nn.Module<Tensor, Tensor>, IQuantizableModel
{
    private readonly nn.Module<Tensor, Tensor> model;

    internal QuantizedModel(string name, nn.Module<Tensor, Tensor> model)
        : base(name)
    {
        this.model = model;
        RegisterComponents();
        var order = new List<IQuantizableLayer>();
        var seen = new HashSet<IQuantizableLayer>(ReferenceEqualityComparer.Instance);
        Collect(model);
        Layers = QuantizableLayers.Bind(model, order);

        void Collect(nn.Module parent)
        {
            foreach (var (_, child) in parent.named_children())
            {
                if (child is IQuantizableLayer layer && seen.Add(layer)) order.Add(layer);
                Collect(child);
            }
        }
    }

    /// <summary>The model after surgery.</summary>
    public nn.Module<Tensor, Tensor> Model => model;

    /// <summary>Every quantizable layer (<see cref="ConvBn"/>, <see cref="QuantConv2d"/>, <see cref="QuantLinear"/>), in module order.</summary>
    public IReadOnlyList<IQuantizableLayer> Layers { get; }

    public override Tensor forward(Tensor input) => model.call(input);
}
